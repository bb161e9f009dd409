import sys

from s2v.cli import main

sys.exit(main())
