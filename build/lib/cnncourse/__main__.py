"""``python -m cnncourse``: record chapters, train their runs, prepare CI's copies.

Course machinery, for maintainers; the code is in ``cnncourse/_record.py``.
"""

import sys

from cnncourse._record import main

sys.exit(main())
