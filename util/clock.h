// Time as an interface, so the consensus core and the simulator control it. Only node/ and p2p/ use
// the system clock; everything else takes time as an input.
#pragma once

#include <cstdint>

namespace cl {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall clock; used for block timestamps).
  virtual uint64_t NowUnixMs() const = 0;
  // Monotonic milliseconds from an arbitrary origin (used for timeouts).
  virtual uint64_t MonotonicMs() const = 0;
};

// The operating system's clocks. Thread-safe.
class SystemClock final : public Clock {
 public:
  uint64_t NowUnixMs() const override;
  uint64_t MonotonicMs() const override;
};

}  // namespace cl
