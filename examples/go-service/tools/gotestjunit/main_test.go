package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Events as `go test -json` writes them; Time is left out where it does not matter.
const passFailSkip = `{"Action":"run","Package":"ex/a","Test":"TestOK"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"--- PASS: TestOK (0.01s)\n"}
{"Action":"pass","Package":"ex/a","Test":"TestOK","Elapsed":0.01}
{"Action":"run","Package":"ex/a","Test":"TestBad"}
{"Action":"run","Package":"ex/a","Test":"TestBad/sub"}
{"Action":"output","Package":"ex/a","Test":"TestBad/sub","Output":"    a_test.go:9: want 2, got 1 \u001b[31m\u0000\n"}
{"Action":"fail","Package":"ex/a","Test":"TestBad/sub","Elapsed":0}
{"Action":"fail","Package":"ex/a","Test":"TestBad","Elapsed":0.02}
{"Action":"run","Package":"ex/a","Test":"TestLater"}
{"Action":"output","Package":"ex/a","Test":"TestLater","Output":"=== RUN   TestLater\n"}
{"Action":"output","Package":"ex/a","Test":"TestLater","Output":"    a_test.go:20: needs BASE_URL\n"}
{"Action":"output","Package":"ex/a","Test":"TestLater","Output":"--- SKIP: TestLater (0.00s)\n"}
{"Action":"skip","Package":"ex/a","Test":"TestLater","Elapsed":0}
{"Action":"output","Package":"ex/a","Output":"FAIL\n"}
{"Action":"fail","Package":"ex/a","Elapsed":0.5}
{"Action":"output","Package":"ex/none","Output":"?   \tex/none\t[no test files]\n"}
{"Action":"skip","Package":"ex/none","Elapsed":0}
`

func parse(t *testing.T, doc junitSuites) junitSuites {
	t.Helper()
	encoded, err := xml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var back junitSuites
	if err := xml.Unmarshal(encoded, &back); err != nil {
		t.Fatalf("the report is not well-formed XML: %v\n%s", err, encoded)
	}
	return back
}

func TestPassFailSkipAndSubtests(t *testing.T) {
	var echo bytes.Buffer
	collected, err := convert(strings.NewReader(passFailSkip), &echo)
	if err != nil {
		t.Fatal(err)
	}

	doc := parse(t, collected.report("", 1))

	if len(doc.Suites) != 1 {
		t.Fatalf("want one suite (the package without tests is left out), got %+v", doc.Suites)
	}
	suite := doc.Suites[0]
	if suite.Name != "ex/a" || suite.Tests != 4 || suite.Failures != 2 || suite.Skipped != 1 || suite.Errors != 0 {
		t.Errorf("suite = %+v", suite)
	}
	if doc.Tests != 4 || doc.Failures != 2 || doc.Skipped != 1 {
		t.Errorf("totals = %d tests, %d failures, %d skipped", doc.Tests, doc.Failures, doc.Skipped)
	}
	sub := suite.Cases[2]
	if sub.Name != "TestBad/sub" || sub.Failure == nil || !strings.Contains(sub.Failure.Body, "want 2, got 1") {
		t.Errorf("subtest case = %+v", sub)
	}
	if skipped := suite.Cases[3]; skipped.Skipped == nil || skipped.Skipped.Message != "a_test.go:20: needs BASE_URL" {
		t.Errorf("skip case = %+v", skipped)
	}
	if !strings.Contains(echo.String(), "--- PASS: TestOK") {
		t.Errorf("the output was not echoed: %q", echo.String())
	}
}

func TestAPackageThatDoesNotBuildIsAnErrorWithTheCompilerOutput(t *testing.T) {
	// Go 1.19: the compiler's output goes to stderr, the package fails without tests.
	const old = `{"Action":"output","Package":"ex/b","Output":"FAIL\tex/b [build failed]\n"}
{"Action":"fail","Package":"ex/b","Elapsed":0}
`
	// Go 1.24 and later: build-output events.
	const newer = `{"ImportPath":"ex/c [ex/c.test]","Action":"build-output","Output":"c.go:3:1: syntax error\n"}
{"ImportPath":"ex/c [ex/c.test]","Action":"build-fail"}
{"Action":"fail","Package":"ex/c","Elapsed":0,"FailedBuild":"ex/c [ex/c.test]"}
`
	for name, c := range map[string]struct{ stream, stderr, want string }{
		"stderr":       {old, "b.go:3:1: syntax error\n", "b.go:3:1: syntax error"},
		"build events": {newer, "", "c.go:3:1: syntax error"},
	} {
		t.Run(name, func(t *testing.T) {
			collected, err := convert(strings.NewReader(c.stream), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}

			doc := parse(t, collected.report(c.stderr, 1))

			if doc.Errors != 1 || doc.Tests != 1 {
				t.Fatalf("want one error case, got %+v", doc)
			}
			problem := doc.Suites[0].Cases[0].Error
			if problem == nil || !strings.Contains(problem.Body, c.want) || !strings.Contains(problem.Message, "outside any test") {
				t.Errorf("error case = %+v", doc.Suites[0].Cases[0])
			}
		})
	}
}

func TestATestThatNeverFinishedIsAnError(t *testing.T) {
	const stream = `{"Action":"run","Package":"ex/d","Test":"TestHang"}
{"Action":"output","Package":"ex/d","Output":"panic: test timed out after 1s\n"}
{"Action":"fail","Package":"ex/d","Elapsed":1}
`
	collected, err := convert(strings.NewReader(stream), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}

	doc := parse(t, collected.report("", 1))

	problem := doc.Suites[0].Cases[0].Error
	if doc.Errors != 1 || problem == nil || !strings.Contains(problem.Body, "test timed out") {
		t.Errorf("report = %+v", doc)
	}
}

func TestAFailedGoTestWithoutPackagesStillFailsTheReport(t *testing.T) {
	collected, err := convert(strings.NewReader(""), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}

	doc := parse(t, collected.report("flag provided but not defined: -nope\n", 2))

	if doc.Errors != 1 || !strings.Contains(doc.Suites[0].Cases[0].Error.Body, "-nope") {
		t.Errorf("report = %+v", doc)
	}
}

func TestAPassingRunHasNoProblem(t *testing.T) {
	const stream = `{"Action":"run","Package":"ex/e","Test":"TestOK"}
{"Action":"pass","Package":"ex/e","Test":"TestOK","Elapsed":0}
{"Action":"pass","Package":"ex/e","Elapsed":0.1}
`
	collected, err := convert(strings.NewReader(stream), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}

	doc := parse(t, collected.report("", 0))

	if doc.Tests != 1 || doc.Failures+doc.Errors+doc.Skipped != 0 {
		t.Errorf("report = %+v", doc)
	}
}

// The test binary doubles as a fake `go` for the end-to-end tests of run.
func TestMain(m *testing.M) {
	if stream, fake := os.LookupEnv("GOTESTJUNIT_FAKE_GO"); fake {
		os.Stdout.WriteString(stream)
		os.Stderr.WriteString("fake go: " + strings.Join(os.Args[1:], " ") + "\n")
		if stream == passFailSkip {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRunWritesTheReportInANewDirectoryAndExitsWithGoTestsStatus(t *testing.T) {
	t.Setenv("GOTESTJUNIT_FAKE_GO", passFailSkip)
	report := filepath.Join(t.TempDir(), "reports", "unit.xml")
	var stdout, stderr bytes.Buffer

	code := run([]string{"-o", report, "-go", os.Args[0], "--", "-count=1", "./..."}, &stdout, &stderr)

	if code != 1 {
		t.Errorf("exit code = %d, want go test's 1", code)
	}
	if !strings.Contains(stderr.String(), "fake go: test -json -count=1 ./...") {
		t.Errorf("go test was not run with -json and the arguments: %q", stderr.String())
	}
	written, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(written, &doc); err != nil {
		t.Fatalf("%v\n%s", err, written)
	}
	if doc.Tests != 4 || doc.Failures != 2 {
		t.Errorf("report = %+v", doc)
	}
}

func TestRunRefusesToStartWithoutAReportPath(t *testing.T) {
	var stderr bytes.Buffer

	if code := run([]string{"--", "./..."}, &bytes.Buffer{}, &stderr); code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "-o REPORT.xml is required") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestRunFailsWhenGoCannotStart(t *testing.T) {
	report := filepath.Join(t.TempDir(), "unit.xml")
	var stderr bytes.Buffer

	code := run([]string{"-o", report, "-go", filepath.Join(t.TempDir(), "no-go")}, &bytes.Buffer{}, &stderr)

	if code != 1 || !strings.Contains(stderr.String(), "cannot run") {
		t.Errorf("exit code = %d, stderr = %q", code, stderr.String())
	}
}
