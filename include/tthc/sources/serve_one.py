"""One source API in its own process (docker-compose runs one service per source):
python -m tthc.sources.serve_one SOURCE DATA_DIR PORT"""

import sys

import uvicorn

from tthc import config
from tthc.sources.api import API_PROFILES, Clock, create_app
from tthc.sources.serve import data_end

if __name__ == "__main__":
    source, data_dir, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app = create_app(source, data_dir, config.load().api_key, Clock(data_end(data_dir)), API_PROFILES["none"])
    uvicorn.run(app, host="0.0.0.0", port=port, log_level="warning")  # noqa: S104 - inside its container
