"""`python -m entrypoints.sandbox`: the same as `kefu sandbox`."""

from entrypoints.sandbox.command import main

raise SystemExit(main())
