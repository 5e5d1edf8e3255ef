// compaudit/version.h — SDK version numbers and the ABI namespace.
//
// Bump rule (read before changing any public header):
//  * COMPAUDIT_SDK_ABI_VERSION (major) changes when a change breaks binary compatibility of anything a plugin
//    compiles against: a virtual function added, removed or reordered in an interface, a member of a struct that
//    crosses the boundary changed, a type's layout changed. The host refuses plugins with any other major.
//  * COMPAUDIT_SDK_ABI_MINOR changes when something is only added in a compatible way (a new free function in the
//    SDK library, a new optional interface). The host accepts plugins whose minor is <= its own; a plugin built
//    against a newer minor may call functions this host does not have, so it is refused with a clear message.
//  * The major version also names an inline namespace, so mixing objects built against two majors fails at link
//    time instead of crashing at run time.
#pragma once

#define COMPAUDIT_SDK_ABI_VERSION 1
#define COMPAUDIT_SDK_ABI_MINOR 0
#define COMPAUDIT_SDK_VERSION_STRING "0.1.0"

#define COMPAUDIT_ABI_NAMESPACE abi_v1
#define COMPAUDIT_NAMESPACE_BEGIN \
  namespace compaudit {           \
  inline namespace COMPAUDIT_ABI_NAMESPACE {
#define COMPAUDIT_NAMESPACE_END \
  }                             \
  }
