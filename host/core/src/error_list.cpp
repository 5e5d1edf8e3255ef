// ErrorList and ErrorCollector: every error of a file in one pass (compaudit/host/error_list.h).
#include <compaudit/host/error_list.h>

namespace compaudit::host {
namespace {
std::string joined(const std::vector<Error>& errors) {
  std::string text;
  for (const auto& e : errors) text += (text.empty() ? "" : "\n") + std::string(e.what());
  return text;
}
}  // namespace

ErrorList::ErrorList(std::vector<Error> errors)
    : Error(errors.front().code(), errors.front().message(), errors.front().where()),
      errors_(std::move(errors)),
      text_(joined(errors_)) {}

void ErrorCollector::add(const Error& e) {
  if (const auto* list = dynamic_cast<const ErrorList*>(&e))
    errors_.insert(errors_.end(), list->errors().begin(), list->errors().end());
  else
    errors_.push_back(e);
}

void ErrorCollector::throw_if_any() const {
  if (errors_.size() == 1) throw errors_.front();
  if (errors_.size() > 1) throw ErrorList(errors_);
}

}  // namespace compaudit::host
