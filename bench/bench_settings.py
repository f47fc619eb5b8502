"""The app's settings served with the benchmark's URLs (the hello-world floor beside every page): what the load stage
(`measure.Bench.load`) runs gunicorn with."""

from psops.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
