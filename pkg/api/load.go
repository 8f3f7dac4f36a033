package api

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadPaths reads every object from the given files and directories.
// Directories are walked recursively in lexical order; only .yaml, .yml and
// .json files are read there, and hidden files and directories are skipped.
// A file named explicitly is read whatever its extension.
//
// When anything fails to read or decode, the error is an ErrorList holding
// every problem, and the returned Config still holds every object that could
// be identified (with the offending fields left empty), so that Validate can
// report the remaining problems in the same run. Such a Config must not be
// served.
func LoadPaths(paths ...string) (*Config, error) {
	cfg := &Config{}
	var errs ErrorList
	for _, root := range paths {
		files, err := manifestFiles(root)
		if err != nil {
			errs = append(errs, fileError(root, err))
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, fileError(file, err))
				continue
			}
			c, err := Decode(file, data)
			cfg.Providers = append(cfg.Providers, c.Providers...)
			cfg.Alerts = append(cfg.Alerts, c.Alerts...)
			cfg.Receivers = append(cfg.Receivers, c.Receivers...)
			cfg.Secrets = append(cfg.Secrets, c.Secrets...)
			var list ErrorList
			if errors.As(err, &list) {
				errs = append(errs, list...)
			}
		}
	}
	if len(errs) > 0 {
		return cfg, errs
	}
	return cfg, nil
}

// fileError drops the path that fs errors repeat, since FieldError already
// starts with it.
func fileError(file string, err error) *FieldError {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		file, err = pe.Path, pe.Err
	}
	return &FieldError{File: file, Index: -1, Message: err.Error()}
}

func manifestFiles(root string) ([]string, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{root}, nil
	}
	var files []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isManifest(path) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// Follow links to files, not to directories, which could loop.
			if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
				return nil
			}
		}
		files = append(files, path)
		return nil
	})
	return files, err
}

func isManifest(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// anchorName matches the alias names in yaml's errors ("unknown anchor
// 'x' referenced"), which are not printed: an unquoted value starting with
// '*', such as a password, is read as an alias.
var anchorName = regexp.MustCompile(`anchor '[0-9A-Za-z_-]*'`)

// Decode reads the objects of one file: YAML with any number of documents,
// or JSON. file names the source in messages and in each object's Source.
// Empty documents are skipped but keep their place in the document count,
// so indexes match what an editor shows between "---" separators. Errors
// are as for LoadPaths.
func Decode(file string, data []byte) (*Config, error) {
	cfg := &Config{}
	var errs ErrorList
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for index := 0; ; index++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The parser cannot resynchronise after a syntax error, so the
			// rest of the file is lost; say where it stopped.
			errs = append(errs, &FieldError{File: file, Index: index, Message: anchorName.ReplaceAllString(err.Error(), "anchor")})
			break
		}
		d := docDecoder{cfg: cfg, src: Source{File: file, Index: index}, budget: nodeBudget}
		d.document(&doc)
		errs = append(errs, d.errs...)
	}
	if len(errs) > 0 {
		return cfg, errs
	}
	return cfg, nil
}
