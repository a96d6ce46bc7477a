// RunProcess: run a real program with given stdin, capture stdout, stderr and exit code.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace sovereign::test {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal number when killed by a signal
  std::string out;
  std::string err;
};

// RunProcess runs `argv` (argv[0] is a path) with `input` on stdin and the
// current environment plus `env` (a value of "" unsets the variable).
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& input = {},
                         const std::map<std::string, std::string>& env = {});

// RunCli runs the sovereign binary built with the tests.
ProcessResult RunCli(const std::vector<std::string>& args, const std::string& input = {},
                     const std::map<std::string, std::string>& env = {});

}  // namespace sovereign::test
