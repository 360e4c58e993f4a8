from kioskapp.cli import main

raise SystemExit(main())
