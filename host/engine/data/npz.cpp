// .npz reader: a zip archive (np.savez: stored members; np.savez_compressed: deflated) of .npy files, one per array.
// The zip container is Debian's libzip; each member is read whole into memory and handed to parse_npy.
#include "data/npy.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <zip.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

namespace compaudit::engine {
namespace {

struct ArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }  // read-only: nothing to write back
};
struct MemberCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

// deflate cannot expand data more than about 1032-fold; a member that claims more is a zip bomb or a lie.
constexpr std::uint64_t kMaxDeflateRatio = 1100;

std::vector<std::uint8_t> read_member(zip_t* archive, zip_uint64_t index, const zip_stat_t& st,
                                      std::uint64_t archive_size, const std::string& path) {
  const std::string name = st.name;
  auto fail = [&](const std::string& what) -> Error {
    return Error(ErrorCode::data, fmt::format("member '{}': {}", name, what), {path});
  };
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) throw fail("is encrypted");
  if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
    throw fail(fmt::format("compression method {} is not supported (numpy writes stored or deflated members)",
                           st.comp_method));
  if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) throw fail("the archive does not give its size");
  if (st.comp_size > archive_size || st.size > std::max<std::uint64_t>(st.comp_size, 1) * kMaxDeflateRatio)
    throw fail(fmt::format("claims {} bytes ({} compressed) in an archive of {} bytes", st.size, st.comp_size,
                           archive_size));
  std::unique_ptr<zip_file_t, MemberCloser> member(zip_fopen_index(archive, index, 0));
  if (!member) throw fail(std::string("cannot open: ") + zip_error_strerror(zip_get_error(archive)));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.size));
  std::size_t got = 0;
  // Read one byte past the promised size: libzip checks the CRC only when a read reaches the end of the member.
  for (;;) {
    std::uint8_t extra = 0;
    std::uint8_t* into = got < bytes.size() ? bytes.data() + got : &extra;
    const std::size_t want = got < bytes.size() ? bytes.size() - got : 1;
    const zip_int64_t n = zip_fread(member.get(), into, want);
    if (n < 0) throw fail(std::string("corrupt data: ") + zip_file_strerror(member.get()));
    if (n == 0) break;
    if (got >= bytes.size()) throw fail("holds more data than the archive's directory says");
    got += static_cast<std::size_t>(n);
  }
  if (got != bytes.size())
    throw fail(fmt::format("truncated: {} of {} bytes could be read", got, bytes.size()));
  return bytes;
}

}  // namespace

std::map<std::string, at::Tensor> read_npz(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(ErrorCode::data, "file not found", {path});
  if (!fs::is_regular_file(path, ec))
    throw Error(ErrorCode::data, "is not a regular file, expected an .npz archive", {path});
  const std::uint64_t archive_size = fs::file_size(path, ec);

  int code = 0;
  std::unique_ptr<zip_t, ArchiveCloser> archive(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!archive) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error(ErrorCode::data, "not a readable .npz (zip) archive: " + why, {path});
  }
  std::map<std::string, at::Tensor> arrays;
  const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
      throw Error(ErrorCode::data, fmt::format("member {}: unreadable directory entry", i), {path});
    std::string name = st.name;
    if (!name.empty() && name.back() == '/') continue;  // a directory
    const auto bytes = read_member(archive.get(), static_cast<zip_uint64_t>(i), st, archive_size, path);
    at::Tensor array;
    try {
      array = parse_npy(bytes.data(), bytes.size(), path);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("member '{}': {}", name, e.message()), {path});
    }
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    if (!arrays.emplace(name, std::move(array)).second)
      throw Error(ErrorCode::data, fmt::format("the archive holds two arrays named '{}'", name), {path});
  }
  return arrays;
}

}  // namespace compaudit::engine
