import LBCore
import NetPrimitives
import Prometheus
import SpeakerCore
import Testing
@testable import Speaker

/// Issue 18: the per-Service series live outside the registry (which copied its whole series
/// table for each one added or removed); the scrape shows them as the registry showed them.
@Suite struct ServiceSeriesTests {
    @Test func announcedAndWithheldSeriesComeAndGoPerService() throws {
        let metrics = SpeakerMetrics(registry: PrometheusCollectorRegistry())
        let web = ServiceKey(namespace: "default", name: "web")
        let ip = try #require(IPAddress("203.0.113.5"))
        metrics.announced(web, [.bgp(ips: [ip], peers: 1), .layer2(ips: [ip], interfaces: [])])
        metrics.withheld(ServiceKey(namespace: "shop", name: "api"), reason: .noReadyEndpoints)
        let text = metrics.serviceSeriesText()
        #expect(text.contains("# TYPE ironlb_speaker_announced gauge\n"))
        #expect(text.contains(#"ironlb_speaker_announced{service="default/web",protocol="bgp",ip="203.0.113.5"} 1.0"#))
        #expect(text.contains(#"ironlb_speaker_announced{service="default/web",protocol="layer2",ip="203.0.113.5"} 1.0"#))
        #expect(text.contains(#"ironlb_speaker_withheld{service="shop/api",reason="noEndpoints"} 1.0"#))
        metrics.announced(web, [.bgp(ips: [ip], peers: 1)])
        #expect(!metrics.serviceSeriesText().contains("layer2"))
        metrics.announced(web, [])
        metrics.withheld(ServiceKey(namespace: "shop", name: "api"), reason: nil)
        #expect(metrics.serviceSeriesText().isEmpty)
    }

    @Test func tenThousandServicesCostOneEntryEach() throws {
        let metrics = SpeakerMetrics(registry: PrometheusCollectorRegistry())
        for index in 0..<10_000 {
            let ip = try #require(IPAddress("2001:db8:1::\(String(index, radix: 16))"))
            metrics.announced(ServiceKey(namespace: "default", name: "s\(index)"), [.bgp(ips: [ip], peers: 1)])
        }
        #expect(metrics.serviceSeriesText().split(separator: "\n").count == 10_002)
    }
}
