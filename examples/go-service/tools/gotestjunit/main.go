// Command gotestjunit runs `go test -json` and writes the outcome as a JUnit XML report.
//
//	go run ./tools/gotestjunit -o reports/unit.xml -- [go test flags] [packages]
//
// Why a tool of the service's own: the usual converter, go-junit-report, is a
// module, and modules cannot be fetched where this project is built; this one
// is the standard library only. And it runs `go test` itself instead of reading
// a pipe, because pipelines.toml commands are argument lists, never shell
// pipelines.
//
// It prints the tests' output as it goes, creates the report's directory, and
// exits with go test's own status: the report is written whether tests pass,
// fail, or do not build. A package that fails without a failing test (a build
// error, a panic, a timeout) becomes an error case carrying its output, so the
// report never looks greener than the run.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events (Go 1.24 and later)
	Test       string
	Elapsed    float64
	Output     string
}

type testCase struct {
	name    string
	result  string // pass, fail, skip; empty when the test never finished
	elapsed float64
	output  strings.Builder
}

type packageRun struct {
	name    string
	started time.Time
	result  string
	elapsed float64
	output  strings.Builder
	order   []string
	tests   map[string]*testCase
}

// collector turns the event stream into packages and their tests, in the order seen.
type collector struct {
	order    []string
	packages map[string]*packageRun
	build    map[string]*strings.Builder // build output per import path
}

func newCollector() *collector {
	return &collector{packages: map[string]*packageRun{}, build: map[string]*strings.Builder{}}
}

func (c *collector) pkg(name string, at time.Time) *packageRun {
	run, found := c.packages[name]
	if !found {
		run = &packageRun{name: name, started: at, tests: map[string]*testCase{}}
		c.packages[name] = run
		c.order = append(c.order, name)
	}
	return run
}

func (c *collector) add(e event) {
	switch e.Action {
	case "build-output":
		out, found := c.build[e.ImportPath]
		if !found {
			out = &strings.Builder{}
			c.build[e.ImportPath] = out
		}
		out.WriteString(e.Output)
		return
	case "build-fail":
		return // The package's own fail event follows, with the build output attached below.
	}
	run := c.pkg(e.Package, e.Time)
	if e.Test == "" {
		switch e.Action {
		case "output":
			run.output.WriteString(e.Output)
		case "pass", "fail", "skip":
			run.result, run.elapsed = e.Action, e.Elapsed
		}
		return
	}
	test, found := run.tests[e.Test]
	if !found {
		test = &testCase{name: e.Test}
		run.tests[e.Test] = test
		run.order = append(run.order, e.Test)
	}
	switch e.Action {
	case "output":
		test.output.WriteString(e.Output)
	case "pass", "fail", "skip":
		test.result, test.elapsed = e.Action, e.Elapsed
	}
}

// JUnit XML, the subset every CI system reads.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

func seconds(value float64) string { return fmt.Sprintf("%.3f", value) }

// report builds the JUnit document. goStderr is what go test wrote on stderr
// (Go 1.19 prints build errors there); exitCode is go test's own status.
func (c *collector) report(goStderr string, exitCode int) junitSuites {
	var doc junitSuites
	var total float64
	for _, name := range c.order {
		run := c.packages[name]
		if len(run.order) == 0 && run.result == "skip" {
			continue // A package without test files.
		}
		suite := junitSuite{Name: name, Time: seconds(run.elapsed)}
		if !run.started.IsZero() {
			suite.Timestamp = run.started.UTC().Format(time.RFC3339)
		}
		failedTests := 0
		for _, testName := range run.order {
			test := run.tests[testName]
			junit := junitCase{Classname: name, Name: testName, Time: seconds(test.elapsed)}
			switch test.result {
			case "pass":
			case "fail":
				junit.Failure = &junitProblem{Message: testName + " failed", Body: test.output.String()}
				suite.Failures++
				failedTests++
			case "skip":
				junit.Skipped = &junitProblem{Message: skipReason(test.output.String()), Body: test.output.String()}
				suite.Skipped++
			default:
				junit.Error = &junitProblem{
					Message: testName + " did not finish (the test binary panicked, timed out or was killed)",
					Body:    test.output.String() + run.output.String(),
				}
				suite.Errors++
				failedTests++
			}
			suite.Cases = append(suite.Cases, junit)
		}
		if run.result == "fail" && failedTests == 0 {
			// A build error, a TestMain failure, a crash outside any test.
			suite.Cases = append(suite.Cases, junitCase{
				Classname: name,
				Name:      "package " + name,
				Time:      seconds(run.elapsed),
				Error: &junitProblem{
					Message: "package " + name + " failed outside any test (does it build?)",
					Body:    buildOutput(c.build, name) + run.output.String() + goStderr,
				},
			})
			suite.Errors++
		}
		suite.Tests = len(suite.Cases)
		doc.Suites = append(doc.Suites, suite)
		total += run.elapsed
	}
	failed := 0
	for _, suite := range doc.Suites {
		failed += suite.Failures + suite.Errors
	}
	if exitCode != 0 && failed == 0 {
		// go test failed before any package ran: a bad flag, a pattern matching nothing.
		doc.Suites = append(doc.Suites, junitSuite{
			Name: "go test", Tests: 1, Errors: 1, Time: seconds(0),
			Cases: []junitCase{{
				Classname: "go test", Name: "go test", Time: seconds(0),
				Error: &junitProblem{
					Message: fmt.Sprintf("go test exited %d without a failing test", exitCode),
					Body:    goStderr,
				},
			}},
		})
	}
	for _, suite := range doc.Suites {
		doc.Tests += suite.Tests
		doc.Failures += suite.Failures
		doc.Errors += suite.Errors
		doc.Skipped += suite.Skipped
	}
	doc.Time = seconds(total)
	return doc
}

func buildOutput(build map[string]*strings.Builder, pkg string) string {
	var out strings.Builder
	for importPath, text := range build {
		// Test packages are built as "pkg [pkg.test]".
		if importPath == pkg || strings.HasPrefix(importPath, pkg+" ") {
			out.WriteString(text.String())
		}
	}
	return out.String()
}

func skipReason(output string) string {
	for _, line := range strings.Split(output, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "=== ") && !strings.HasPrefix(line, "--- SKIP") {
			return line
		}
	}
	return "skipped"
}

// convert reads the event stream, echoing each output line to echo; a line
// that is not an event (never expected) is kept as package-less output.
func convert(stream io.Reader, echo io.Writer) (*collector, error) {
	c := newCollector()
	scanner := bufio.NewScanner(stream)
	scanner.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for scanner.Scan() {
		var e event
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil || e.Action == "" {
			e = event{Action: "output", Package: "go test", Output: scanner.Text() + "\n"}
		}
		if e.Action == "output" || e.Action == "build-output" {
			_, _ = io.WriteString(echo, e.Output)
		}
		c.add(e)
	}
	return c, scanner.Err()
}

func write(path string, doc junitSuites) error {
	encoded, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(encoded, '\n')...), 0o644)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("gotestjunit", flag.ContinueOnError)
	flags.SetOutput(stderr)
	output := flags.String("o", "", "the JUnit XML report to write (its directory is created)")
	goBinary := flags.String("go", "go", "the go command to run")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: gotestjunit -o REPORT.xml [-go GO] -- [go test flags] [packages]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *output == "" {
		fmt.Fprintln(stderr, "gotestjunit: -o REPORT.xml is required: where to write the JUnit report")
		return 2
	}

	command := exec.Command(*goBinary, append([]string{"test", "-json"}, flags.Args()...)...)
	var goStderr bytes.Buffer
	command.Stderr = io.MultiWriter(stderr, &goStderr)
	events, err := command.StdoutPipe()
	if err != nil {
		fmt.Fprintf(stderr, "gotestjunit: %v\n", err)
		return 1
	}
	if err := command.Start(); err != nil {
		fmt.Fprintf(stderr, "gotestjunit: cannot run %s: %v\n", *goBinary, err)
		return 1
	}
	collected, readErr := convert(events, stdout)
	exitCode := 0
	if err := command.Wait(); err != nil {
		var exited *exec.ExitError
		if !errors.As(err, &exited) {
			fmt.Fprintf(stderr, "gotestjunit: %v\n", err)
			return 1
		}
		exitCode = exited.ExitCode()
		if exitCode < 0 { // Killed by a signal: still a failure.
			exitCode = 1
		}
	}
	if readErr != nil {
		fmt.Fprintf(stderr, "gotestjunit: reading go test's output: %v\n", readErr)
		exitCode = 1
	}
	if err := write(*output, collected.report(goStderr.String(), exitCode)); err != nil {
		fmt.Fprintf(stderr, "gotestjunit: cannot write %s: %v\n", *output, err)
		return 1
	}
	return exitCode
}
