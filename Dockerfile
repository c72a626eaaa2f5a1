# The omniload harness image: Locust master/worker, the simulator, `omniload omnibench`.
FROM python:3.11-slim
WORKDIR /omniload
COPY pyproject.toml README.md ./
COPY harness ./harness
# A regular (not editable) install: the locustfile and dashboard ship inside the package.
RUN pip install --no-cache-dir . \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /tmp omniload \
 && mkdir -p /results && chown 10001:10001 /results
# Never root: a load generator needs no privilege (ports above 1024, files under /results).
USER 10001:10001
# The master's worker port and live metrics, and the simulator's port. The web UI (8089) is
# not served by these headless runs.
EXPOSE 5557 9646 8801
# docker stop / Kubernetes wait this long for SIGTERM's report (--stop-timeout 120 s plus writing).
STOPSIGNAL SIGTERM
ENTRYPOINT ["omniload", "run"]
