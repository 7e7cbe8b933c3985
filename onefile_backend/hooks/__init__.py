"""The PEP 517 hooks (``backend``) and the runner that calls ours in a build environment
(``in_process``, a stdlib-only script)."""

#: Set by onefile's own hook runner, which reports errors itself.
ENV_HOOK_RUNNER = "ONEFILE_HOOK_RUNNER"
