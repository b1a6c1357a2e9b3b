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
