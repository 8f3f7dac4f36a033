package dynamotest

import "syscall"

// sysProcAttr has the kernel kill DynamoDB Local when the test binary dies,
// as it does on a test timeout, so no emulator outlives its tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
