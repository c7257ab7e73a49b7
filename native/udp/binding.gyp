{
  "targets": [
    {
      "target_name": "meridian_udp",
      "sources": ["udp.cc"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
