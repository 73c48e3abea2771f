// The local cluster's KMS v2 plugin (a test double; see main.go), built by
// scripts/toolchain.sh. k8s.io/kms at the release of the control plane
// (toolchain/kube-control-plane) so both sides speak the same KMS v2 API.
module x1agent.local/toolchain/kms-plugin

go 1.26.0

require k8s.io/kms v0.36.3

require (
	golang.org/x/net v0.49.0 // indirect
	golang.org/x/sys v0.40.0 // indirect
	golang.org/x/text v0.33.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260128011058-8636f8732409 // indirect
	google.golang.org/grpc v1.79.3 // indirect
	google.golang.org/protobuf v1.36.12-0.20260120151049-f2248ac996af // indirect
)
