# Sourced by the testenv scripts. Override with environment variables.
# Kubernetes version of the kube-apiserver (and the tests' kubectl) built from
# the k8s.io/kubernetes Go module.
KUBE_VERSION="${BINDERY_TESTENV_KUBE_VERSION:-v1.33.13}"
# The Helm release testenv/setup builds for the chart's tests, and the
# Kubernetes minor version it assumes by default (Helm's own Makefile's).
HELM_VERSION="v3.21.4"
HELM_K8S_MINOR="36"
# Where setup and start keep what they build (outside the repository clone).
BINDERY_TESTENV_CACHE="${BINDERY_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bindery-testenv}"
# Per-run state: certificates, etcd data, logs, PIDs, kubeconfig.
BINDERY_TESTENV_DIR="${BINDERY_TESTENV_DIR:-/tmp/bindery-testenv}"
# The service range (the apiserver's --service-cluster-ip-range): a /16 or
# wider whose network address ends in .0; the `kubernetes` Service is its
# .1 and, with --node, the cluster DNS its .10.
BINDERY_TESTENV_SERVICE_CIDR="${BINDERY_TESTENV_SERVICE_CIDR:-10.96.0.0/16}"

# ---- testenv/start --node (README.md, "The node")
# Defaults derived from the state dir, so that two state dirs on one machine
# get different names and link addresses.
_bindery_tag="$(printf '%s' "$BINDERY_TESTENV_DIR" | cksum | cut -d' ' -f1)"
# The network namespace the whole node lives in.
BINDERY_NODE_NETNS="${BINDERY_NODE_NETNS:-bindery-node-$(( _bindery_tag % 100000 ))}"
# The /30 of the veth pair between the machine's namespace (.1 of it: the
# apiserver's address) and the node's (.2: the node's InternalIP).
BINDERY_NODE_LINK="${BINDERY_NODE_LINK:-172.31.$(( _bindery_tag % 256 )).$(( (_bindery_tag / 256) % 64 * 4 ))/30}"
# The pods' addresses (CNI bridge + host-local), inside the node namespace.
BINDERY_NODE_POD_CIDR="${BINDERY_NODE_POD_CIDR:-10.244.0.0/24}"
# The kubelet's cgroup parent (created and removed by testenv).
BINDERY_NODE_CGROUP="${BINDERY_NODE_CGROUP:-/bindery-node-$(( _bindery_tag % 100000 ))}"
BINDERY_NODE_NAME="${BINDERY_NODE_NAME:-bindery-node}"
# CoreDNS, built with Go from the module proxy (github.com/coredns/coredns).
COREDNS_VERSION="${BINDERY_TESTENV_COREDNS_VERSION:-v1.12.0}"
unset _bindery_tag
