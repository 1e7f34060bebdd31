// Child processes for the harness and the benchmarks: starting a program with its output in a log
// file, bound to the life of the thread that started it, and reading its figures from /proc.
//
// Thread safety: every function is safe from any thread; a child started by SpawnLogged dies when
// the calling thread exits (PR_SET_PDEATHSIG follows the thread, not the process).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cl::test_support {

// Forks and execs argv[0] with these arguments: stdin from /dev/null, stdout and stderr appended
// to `log`, no other descriptors, no blocked signals, SIGKILL when the calling thread dies (even
// if the parent is killed). Returns the child's pid, or -1 with errno set when fork failed. A
// child that cannot open its log exits with 126, one that cannot exec with 127.
pid_t SpawnLogged(const std::vector<std::string>& argv, const std::filesystem::path& log);

// A "Name:  <n> kB" field of /proc/<pid>/status (VmRSS, VmHWM, ...), in kB; 0 when absent.
uint64_t ProcStatusKb(pid_t pid, const std::string& field);
// CPU seconds (user + system) the process has used, from /proc/<pid>/stat; 0 when unreadable.
double ProcCpuSeconds(pid_t pid);
// Open descriptors of the process (entries of /proc/<pid>/fd); 0 when unreadable.
size_t ProcOpenFds(pid_t pid);

}  // namespace cl::test_support
