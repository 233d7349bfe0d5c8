"""The OpenTelemetry SDK with in-memory readers, configured once for the session.

OpenTelemetry's global providers can be set only once per process; the app's
instruments are made on the API's proxies at import, so setting them here,
whenever the first telemetry test runs, is "before the app starts" for them.
Metrics are read as deltas and spans cleared, so each test sees its own.
"""

from __future__ import annotations

import json

import pytest

otel_sdk = pytest.importorskip("opentelemetry.sdk")

from opentelemetry import metrics, trace  # noqa: E402
from opentelemetry.sdk.metrics import (  # noqa: E402
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

DELTA = AggregationTemporality.DELTA
INSTRUMENTS = (
    Counter,
    Histogram,
    UpDownCounter,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
)


class Telemetry:
    """What the app exported during one test: spans, and metric points by name."""

    def __init__(self, reader: InMemoryMetricReader, exporter: InMemorySpanExporter) -> None:
        self.reader, self.exporter = reader, exporter
        self._metrics = None

    def start(self) -> None:
        self.reader.get_metrics_data()  # a delta reader: drops what earlier tests recorded
        self.exporter.clear()

    def spans(self, name: str | None = None) -> list:
        return [s for s in self.exporter.get_finished_spans() if name in (None, s.name)]

    def metrics_data(self):
        if self._metrics is None:
            self._metrics = self.reader.get_metrics_data()
        return self._metrics

    def points(self, name: str) -> list:
        data = self.metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def counts(self, name: str) -> dict[tuple, int]:
        """``{sorted attribute items: value}`` of a counter, or of a histogram's counts."""
        return {
            tuple(sorted(p.attributes.items())): getattr(p, "value", None) or p.count
            for p in self.points(name)
            if getattr(p, "value", None) or getattr(p, "count", 0)
        }

    def dump(self) -> str:
        """Everything exported, serialized: what a collector would receive."""
        data = self.metrics_data()
        spans = [json.loads(span.to_json()) for span in self.spans()]
        return json.dumps(spans) + (data.to_json() if data else "")


@pytest.fixture(scope="session")
def _otel_sdk():
    reader = InMemoryMetricReader(preferred_temporality=dict.fromkeys(INSTRUMENTS, DELTA))
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader, exporter


@pytest.fixture
def telemetry(_otel_sdk):
    recorded = Telemetry(*_otel_sdk)
    recorded.start()
    yield recorded
    recorded.exporter.clear()
