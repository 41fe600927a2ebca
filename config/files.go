package config

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// readKeyValueFile reads "key = value" lines; # and ; start comments.
func readKeyValueFile(path string) (map[string]string, error) {
	sections, err := readINI(path)
	if err != nil {
		return nil, err
	}
	if len(sections) > 1 {
		return nil, fmt.Errorf("%s: sections are not supported; write key = value lines", path)
	}
	return sections[""], nil
}

// readINISection reads one [section] of an INI file such as ~/.aws/config.
func readINISection(path, section string) (map[string]string, error) {
	sections, err := readINI(path)
	if err != nil {
		return nil, err
	}
	vals, ok := sections[section]
	if !ok {
		return nil, fmt.Errorf("%s: no [%s] section", path, section)
	}
	return vals, nil
}

func readINI(path string) (map[string]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && line[len(line)-1] == ']' {
			section = strings.TrimSpace(line[1 : len(line)-1])
			if out[section] == nil {
				out[section] = map[string]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key = value", path, n)
		}
		if out[section] == nil {
			out[section] = map[string]string{}
		}
		out[section][strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	if len(out) == 0 {
		out[""] = map[string]string{}
	}
	return out, sc.Err()
}
