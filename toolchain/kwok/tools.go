//go:build tools

// Package tools pins kwok's main package so `go mod tidy` keeps its whole
// dependency graph in go.sum.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
