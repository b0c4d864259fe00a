from biosig.cli import main

raise SystemExit(main())
