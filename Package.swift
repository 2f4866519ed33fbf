// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mtaguard",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "mtaguard", targets: ["mtaguard"]),
        .library(name: "MTAGuard", targets: ["MTAGuard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CAugeas",
            pkgConfig: "augeas",
            providers: [.apt(["libaugeas-dev"])]
        ),
        .target(name: "Augeas", dependencies: ["CAugeas"]),
        .systemLibrary(
            name: "CXlsxwriter",
            pkgConfig: "xlsxwriter",
            providers: [.apt(["libxlsxwriter-dev"])]
        ),
        .target(
            name: "MTAGuard",
            dependencies: [
                "Augeas",
                "CXlsxwriter",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/lenses")]
        ),
        .executableTarget(
            name: "mtaguard",
            dependencies: [
                "MTAGuard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "AugeasTests", dependencies: ["Augeas"]),
        .testTarget(name: "MTAGuardTests", dependencies: ["MTAGuard", "Augeas"]),
    ]
)
