# The two commands of the README. Both are safe to run again and again.
#   make dev   install everything, start the demo cluster and sign-in service, run the portal
#   make test  install everything, start the demo cluster and sign-in service, run all tests
.PHONY: dev test setup lint
dev:
	bash scripts/dev.sh
test:
	bash scripts/test.sh
setup:
	bash scripts/setup.sh
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
