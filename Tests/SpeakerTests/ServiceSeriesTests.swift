import LBCore
import Prometheus
import SpeakerCore
import Testing
@testable import Speaker

/// Issue 18: the per-Service series live outside the registry (which copied its whole series
/// table for each one added or removed); the scrape shows them as the registry showed them.
@Suite struct ServiceSeriesTests {
    @Test func announcedAndWithheldSeriesComeAndGoPerService() {
        let metrics = SpeakerMetrics(registry: PrometheusCollectorRegistry())
        let labels: Set<[String]> = [["default/web", "bgp", "203.0.113.5"], ["default/web", "layer2", "203.0.113.5"]]
        metrics.announced(labels, previous: [])
        metrics.withheld(ServiceKey(namespace: "shop", name: "api"), reason: .noReadyEndpoints)
        let text = metrics.serviceSeriesText()
        #expect(text.contains("# TYPE ironlb_speaker_announced gauge\n"))
        #expect(text.contains(#"ironlb_speaker_announced{service="default/web",protocol="bgp",ip="203.0.113.5"} 1.0"#))
        #expect(text.contains(#"ironlb_speaker_announced{service="default/web",protocol="layer2",ip="203.0.113.5"} 1.0"#))
        #expect(text.contains(#"ironlb_speaker_withheld{service="shop/api",reason="noEndpoints"} 1.0"#))
        metrics.announced([["default/web", "bgp", "203.0.113.5"]], previous: labels)
        #expect(!metrics.serviceSeriesText().contains("layer2"))
        metrics.announced([], previous: [["default/web", "bgp", "203.0.113.5"]])
        metrics.withheld(ServiceKey(namespace: "shop", name: "api"), reason: nil)
        #expect(metrics.serviceSeriesText().isEmpty)
    }

    @Test func tenThousandServicesCostOneEntryEach() {
        let metrics = SpeakerMetrics(registry: PrometheusCollectorRegistry())
        for index in 0..<10_000 {
            metrics.announced([["default/s\(index)", "bgp", "2001:db8:1::\(String(index, radix: 16))"]], previous: [])
        }
        #expect(metrics.serviceSeriesText().split(separator: "\n").count == 10_002)
    }
}
