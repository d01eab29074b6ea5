import sys

from dendritic.cli import main

sys.exit(main())
