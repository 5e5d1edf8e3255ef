#include "test_api.h"

namespace compaudit::test {
Worker::~Worker() noexcept(false) = default;  // key function: vtable and type_info live here
}
