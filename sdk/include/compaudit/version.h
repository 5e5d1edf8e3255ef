// compaudit/version.h — SDK version numbers and the ABI namespace.
//
// Bump rule (read before changing any public header):
//  * COMPAUDIT_SDK_ABI_VERSION (major) changes when a change breaks binary compatibility of anything a plugin
//    compiles against: a virtual function removed or reordered, a virtual added to an interface plugins implement
//    (Compressor, Metric, Augmentation) or anywhere but at the end of one the host implements (Model,
//    CompressionContext), a member of a struct that crosses the boundary changed, a type's layout changed. The
//    host refuses plugins with any other major. (Appending a virtual to a host-implemented interface is a minor
//    change: plugins built before never call it.)
//  * COMPAUDIT_SDK_ABI_MINOR changes when something is only added in a compatible way (a new free function in the
//    SDK library, a new optional interface). The host accepts plugins whose minor is <= its own; a plugin built
//    against a newer minor may call functions this host does not have, so it is refused with a clear message.
//  * The major version also names an inline namespace, so mixing objects built against two majors fails at link
//    time instead of crashing at run time.
//  * The SDK's version is MAJOR.MINOR.PATCH = ABI major . ABI minor . COMPAUDIT_SDK_PATCH (a fix that changes no
//    declaration and no documented meaning). It is compaudit's version: the top-level CMakeLists.txt reads these
//    three numbers from this file for project(VERSION), the libraries' VERSION and the installed package's
//    compauditConfigVersion.cmake, and docs/sdk-changelog.md has one entry per version — so they cannot disagree.
//  * A change of documented meaning (ownership, what the host reads) bumps the minor even when no declaration
//    changes: a plugin written against the new rules may rely on them.
#pragma once

#define COMPAUDIT_SDK_ABI_VERSION 1
#define COMPAUDIT_SDK_ABI_MINOR 1
#define COMPAUDIT_SDK_PATCH 0
#define COMPAUDIT_DETAIL_STRINGIFY2(x) #x
#define COMPAUDIT_DETAIL_STRINGIFY(x) COMPAUDIT_DETAIL_STRINGIFY2(x)
/// "1.1.0"
#define COMPAUDIT_SDK_VERSION_STRING                                                                     \
  COMPAUDIT_DETAIL_STRINGIFY(COMPAUDIT_SDK_ABI_VERSION) "." COMPAUDIT_DETAIL_STRINGIFY(COMPAUDIT_SDK_ABI_MINOR) "." \
      COMPAUDIT_DETAIL_STRINGIFY(COMPAUDIT_SDK_PATCH)

#define COMPAUDIT_ABI_NAMESPACE abi_v1
#define COMPAUDIT_NAMESPACE_BEGIN \
  namespace compaudit {           \
  inline namespace COMPAUDIT_ABI_NAMESPACE {
#define COMPAUDIT_NAMESPACE_END \
  }                             \
  }
