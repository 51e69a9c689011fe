from threephase_core.cli import main

raise SystemExit(main())
