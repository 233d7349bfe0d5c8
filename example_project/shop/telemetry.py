"""The OpenTelemetry SDK for the example shop, when installed (``pip install opentelemetry-sdk``).

A real site sends its metrics and spans to a collector (``docs/monitoring.md``):
here an OTLP exporter is added when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and
``opentelemetry-exporter-otlp`` is installed; an in-memory reader keeps the
metrics too, so ``manage.py demo`` can show what the app produced.
"""

from __future__ import annotations

import os

reader = None


def configure() -> None:
    """Set the global meter and tracer providers (once per process)."""
    global reader
    try:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return
    reader = InMemoryMetricReader()
    readers, tracer_provider = [reader], TracerProvider()
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    metrics.set_meter_provider(MeterProvider(metric_readers=readers))
    trace.set_tracer_provider(tracer_provider)


def metric_rows() -> list[tuple[str, str, str]]:
    """``(metric, attributes, value)`` of every apiauth metric recorded so far."""
    data = reader.get_metrics_data() if reader is not None else None
    rows = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    attributes = " ".join(
                        f"{key.removeprefix('apiauth.')}={value}"
                        for key, value in sorted(point.attributes.items())
                    )
                    value = getattr(point, "value", None)
                    shown = (
                        f"{value}" if value is not None else f"{point.count} in {point.sum:.3f} s"
                    )
                    rows.append((metric.name, attributes, shown))
    return rows
