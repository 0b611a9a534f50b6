// Command go-service is the example service ms-build builds: a two-stage
// Dockerfile compiles it in an SDK stage and ships only the binary.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Printf("hello from go-service, built by ms-build with %s\n", runtime.Version())
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		fmt.Println("(a real service would listen here)")
	}
}
