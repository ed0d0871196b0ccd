import sys

from labkit.sim.server import main

sys.exit(main())
