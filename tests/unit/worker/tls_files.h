#pragma once
// Test helper: a scratch directory with self-signed certificates (for the
// DNS over TLS tests of worker/).

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace shoal::worker {

/// A scratch directory with self-signed certificates written on demand.
class TlsFiles {
 public:
  TlsFiles() {
    std::string pattern = (std::filesystem::temp_directory_path() / "shoal-tls-test-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
  }
  ~TlsFiles() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  /// Writes `name`.crt and `name`.key: a P-256 (or RSA) key and a
  /// certificate for CN=`cn`, self-signed, valid for a day. `passphrase`:
  /// the key encrypted with it.
  void make(const std::string& name, const std::string& cn = "shoal.test", bool rsa = false,
            const std::string& passphrase = "") const {
    EVP_PKEY* key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    ASSERT_NE(key, nullptr);
    X509* cert = X509_new();
    ASSERT_EQ(X509_set_version(cert, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_NAME* subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert, subject);
    X509_set_pubkey(cert, key);
    ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
    std::FILE* out = std::fopen(path(name + ".crt").c_str(), "w");
    PEM_write_X509(out, cert);
    std::fclose(out);
    out = std::fopen(path(name + ".key").c_str(), "w");
    if (passphrase.empty()) {
      PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      PEM_write_PrivateKey(out, key, EVP_aes_256_cbc(),
                           reinterpret_cast<const unsigned char*>(passphrase.data()),
                           static_cast<int>(passphrase.size()), nullptr, nullptr);
    }
    std::fclose(out);
    X509_free(cert);
    EVP_PKEY_free(key);
  }

  void write(const std::string& name, const std::string& text) const {
    std::FILE* out = std::fopen(path(name).c_str(), "w");
    std::fputs(text.c_str(), out);
    std::fclose(out);
  }

 private:
  std::string dir_;
};

}  // namespace shoal::worker
