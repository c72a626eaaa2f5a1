# The omniload harness image: Locust master/worker, the simulator, `omniload omnibench`.
FROM python:3.11-slim
WORKDIR /omniload
COPY pyproject.toml README.md ./
COPY harness ./harness
# A regular (not editable) install: the locustfile and dashboard ship inside the package.
RUN pip install --no-cache-dir .
EXPOSE 8089 5557 9646 8801
ENTRYPOINT ["omniload", "run"]
