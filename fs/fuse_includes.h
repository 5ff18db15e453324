// The one place that chooses the libfuse API version (Debian 12: 3.14).
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <fuse_lowlevel.h>
