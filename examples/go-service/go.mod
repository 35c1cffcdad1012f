module example.com/go-service

// The oldest Go the service builds with: Debian 12's golang-go (1.19), which
// the project's CI installs to run the suites on loopback. The image's test
// stage uses a newer toolchain; standard library only, so there is no go.sum.
go 1.19
