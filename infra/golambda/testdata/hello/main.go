// Command hello stands in for a Lambda's main package in golambda's
// example: the example builds it, it is never invoked.
package main

import "fmt"

func main() { fmt.Println("hello") }
