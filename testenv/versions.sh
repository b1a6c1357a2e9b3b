# Sourced by the testenv scripts. Override with environment variables.
# Kubernetes version of the kube-apiserver built from the k8s.io/kubernetes Go module.
KUBE_VERSION="${BINDERY_TESTENV_KUBE_VERSION:-v1.33.13}"
# Where built binaries are cached (outside the repository clone).
BINDERY_TESTENV_CACHE="${BINDERY_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bindery-testenv}"
# Per-run state: certificates, etcd data, logs, PIDs, kubeconfig.
BINDERY_TESTENV_DIR="${BINDERY_TESTENV_DIR:-/tmp/bindery-testenv}"
