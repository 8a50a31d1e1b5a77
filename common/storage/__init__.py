"""Images on object storage: keys (`keys`), magic-byte sniffing (`sniff`), the S3 client
(`client`), upload and attach (`images`), and the embedded SeaweedFS (`embedded`).

Nothing is imported here: the dev runner needs `embedded` without loading the S3 SDK.
"""
