// Each public header compiles on its own (included first, nothing before it).
#include <compaudit/store/records.h>
