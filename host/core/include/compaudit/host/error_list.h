// compaudit/host/error_list.h — every error of a file, reported in one pass.
//
// Validating a pipeline stops at the first error of a table, but not at the first error of the file: independent
// parts (each plain table, each [[arm]], [[metric]], [[gate]]) are checked one after another, and their errors are
// reported together, so a user fixes them in one round instead of one per run of `validate`.
#pragma once

#include <compaudit/error.h>
#include <compaudit/export.h>

#include <string>
#include <vector>

namespace compaudit::host {

/// Several errors of one file. Code, message and location are those of the first (so code that handles one Error
/// handles this one the same way); what() is every error's what(), one per line, in file order of checking.
class COMPAUDIT_EXPORT ErrorList : public Error {
 public:
  /// `errors` holds at least two errors.
  explicit ErrorList(std::vector<Error> errors);
  const std::vector<Error>& errors() const noexcept { return errors_; }
  const char* what() const noexcept override { return text_.c_str(); }

 private:
  std::vector<Error> errors_;
  std::string text_;
};

/// Collects the errors of independent checks: check(f) runs f and records an Error it throws (an ErrorList's
/// errors one by one) instead of propagating it.
class COMPAUDIT_EXPORT ErrorCollector {
 public:
  /// Runs f(); false when it threw an Error, which is recorded. Other exceptions propagate.
  template <class F>
  bool check(F&& f) {
    try {
      f();
      return true;
    } catch (const Error& e) {
      add(e);
      return false;
    }
  }
  void add(const Error& e);
  bool empty() const noexcept { return errors_.empty(); }
  std::size_t size() const noexcept { return errors_.size(); }
  /// Throws nothing when no error was recorded, the error itself when one was, an ErrorList when several were.
  void throw_if_any() const;

 private:
  std::vector<Error> errors_;
};

}  // namespace compaudit::host
