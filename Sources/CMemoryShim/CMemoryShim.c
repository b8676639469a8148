// CMemoryShim: see include/CMemoryShim.h (everything is inline there).
#include "CMemoryShim.h"
