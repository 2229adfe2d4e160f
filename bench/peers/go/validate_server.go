// SPDX-License-Identifier: MIT
//
// validate_server: the http_validate benchmark's Go peer (bench/http_validate.sh).
// POST /items as the demo declares it, with net/http and encoding/json and
// the constraints checked by hand: name 1..50 characters, description at
// most 300, price > 0, tax >= 0, at most 10 tags, image.url matching
// ^https?://; the item echoed in declared order with null for absent
// optionals, or 422 with FastAPI-shaped errors.  Prints "serving on
// http://127.0.0.1:<port>" once it listens (port 0: a free port) and runs
// until killed.  GOMAXPROCS comes from the environment (the benchmark sets 1).
//
// Usage: validate_server <port>
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"
)

type Image struct {
	URL  *string `json:"url"`
	Name *string `json:"name"`
}

type Item struct {
	Name        *string  `json:"name"`
	Description *string  `json:"description"`
	Price       *float64 `json:"price"`
	Tax         *float64 `json:"tax"`
	Tags        []string `json:"tags"`
	Image       *Image   `json:"image"`
}

type verr struct {
	Type  string        `json:"type"`
	Loc   []interface{} `json:"loc"`
	Msg   string        `json:"msg"`
	Input interface{}   `json:"input"`
}

func check(it *Item) []verr {
	var errs []verr
	add := func(t string, msg string, input interface{}, loc ...interface{}) {
		errs = append(errs, verr{t, append([]interface{}{"body"}, loc...), msg, input})
	}
	if it.Name == nil {
		add("missing", "Field required", nil, "name")
	} else if n := utf8.RuneCountInString(*it.Name); n < 1 {
		add("string_too_short", "String should have at least 1 character", *it.Name, "name")
	} else if n > 50 {
		add("string_too_long", "String should have at most 50 characters", *it.Name, "name")
	}
	if it.Description != nil && utf8.RuneCountInString(*it.Description) > 300 {
		add("string_too_long", "String should have at most 300 characters", *it.Description, "description")
	}
	if it.Price == nil {
		add("missing", "Field required", nil, "price")
	} else if !(*it.Price > 0) {
		add("greater_than", "Input should be greater than 0", *it.Price, "price")
	}
	if it.Tax != nil && !(*it.Tax >= 0) {
		add("greater_than_equal", "Input should be greater than or equal to 0", *it.Tax, "tax")
	}
	if len(it.Tags) > 10 {
		add("too_long", fmt.Sprintf("List should have at most 10 items after validation, not %d", len(it.Tags)), it.Tags, "tags")
	}
	if it.Tags == nil {
		it.Tags = []string{}
	}
	if im := it.Image; im != nil {
		if im.URL == nil {
			add("missing", "Field required", nil, "image", "url")
		} else if !strings.HasPrefix(*im.URL, "http://") && !strings.HasPrefix(*im.URL, "https://") {
			add("string_pattern_mismatch", "String should match pattern '^https?://'", *im.URL, "image", "url")
		}
		if im.Name == nil {
			add("missing", "Field required", nil, "image", "name")
		}
	}
	return errs
}

func items(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, `{"detail":"Method Not Allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	var it Item
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewDecoder(r.Body).Decode(&it); err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		json.NewEncoder(w).Encode(map[string]interface{}{"detail": []verr{{"json_invalid", []interface{}{"body"}, "JSON decode error", err.Error()}}})
		return
	}
	if errs := check(&it); errs != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		json.NewEncoder(w).Encode(map[string]interface{}{"detail": errs})
		return
	}
	out, _ := json.Marshal(&it)
	w.Write(out)
}

func main() {
	port := "0"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("serving on http://127.0.0.1:%d\n", ln.Addr().(*net.TCPAddr).Port)
	mux := http.NewServeMux()
	mux.HandleFunc("/items", items)
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
