package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, text := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFormattedFilesPass(t *testing.T) {
	root := tree(t, map[string]string{"a.go": "package a\n\nfunc f() {}\n", "README.md": "not go"})
	var stdout, stderr bytes.Buffer

	if code := run([]string{root}, &stdout, &stderr); code != 0 {
		t.Errorf("exit code = %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

func TestAnUnformattedFileIsListedAndFails(t *testing.T) {
	root := tree(t, map[string]string{
		"ok.go":                "package a\n",
		"sub/bad.go":           "package a\nfunc  f( ) {}\n",
		"testdata/ignored.go":  "package  x\n",
		".hidden/ignored.go":   "package  x\n",
		"sub/also_ignored.txt": "package  x\n",
	})
	var stdout, stderr bytes.Buffer

	code := run([]string{root}, &stdout, &stderr)

	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if got := strings.TrimSpace(stdout.String()); got != filepath.Join(root, "sub", "bad.go") {
		t.Errorf("listed %q", got)
	}
	if !strings.Contains(stderr.String(), "run `gofmt -w`") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestAFileThatDoesNotParseFails(t *testing.T) {
	root := tree(t, map[string]string{"broken.go": "package a\nfunc {\n"})
	var stderr bytes.Buffer

	if code := run([]string{root}, &bytes.Buffer{}, &stderr); code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "broken.go") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
