// The peer that `make bench-http` compares examples/http_hello with: the
// same endpoint on Go's net/http (Debian's golang-go), GET /plaintext
// answering "Hello, World!" as text/plain, with GOMAXPROCS set to the
// number of workers the run compares.
//
//	go run bench/go_hello/main.go -port 8080 -procs 1
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"runtime"
)

func main() {
	port := flag.Int("port", 8080, "port to listen on, on 127.0.0.1")
	procs := flag.Int("procs", 1, "GOMAXPROCS: threads running Go code at once")
	flag.Parse()
	runtime.GOMAXPROCS(*procs)
	body := []byte("Hello, World!")
	http.HandleFunc("/plaintext", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), nil))
}
