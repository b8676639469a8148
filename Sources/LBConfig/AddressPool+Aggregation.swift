import NetPrimitives

extension AddressPool {
    /// Why an aggregation length does not suit this pool's addresses of `family`, or nil.
    ///
    /// MetalLB's rule (v0.12 `parseBGPAdvertisements`, the CRDs' `validateBGPAdvPerPool`): the
    /// aggregate may not be wider than the widest CIDR of an entry's minimal cover. For a CIDR
    /// that is the CIDR itself; for a range the aggregate may cover a few addresses at its edges,
    /// as MetalLB announces them (docs/design/config-language.md).
    public func aggregationProblem(length: Int, family: IPFamily) -> String? {
        for block in addresses where block.family == family {
            if let widest = block.range.prefixes.min(by: { $0.length < $1.length }), length < widest.length {
                return "\(length) is shorter than the pool's prefix \(widest) from \(block); the aggregate would announce addresses the pool does not hold"
            }
        }
        return nil
    }
}
