package buildkitd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// makeCerts makes, in dir, a CA, the daemon's certificate for 127.0.0.1
// and a client certificate it signed, and a client certificate another CA
// signed.
func (d *Daemon) makeCerts(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var certs [5]*x509.Certificate
	var keys [5]*ecdsa.PrivateKey
	for i, c := range []struct {
		cn     string
		parent int // index of the signer, -1 for self-signed
	}{{"msb-test buildkit CA", -1}, {"msb-test other CA", -1}, {"buildkitd", 0}, {"msb-test client", 0}, {"msb-test unsigned client", 1}} {
		var parent *x509.Certificate
		var parentKey *ecdsa.PrivateKey
		if c.parent >= 0 {
			parent, parentKey = certs[c.parent], keys[c.parent]
		}
		var err error
		if certs[i], keys[i], err = newCert(c.cn, parent, parentKey, c.parent < 0); err != nil {
			return err
		}
	}
	pems := make([][]byte, 0, 5)
	for i := 2; i < 5; i++ {
		k, err := pemKey(keys[i])
		if err != nil {
			return err
		}
		pems = append(pems, k)
	}
	d.CA = pemCert(certs[0])
	d.Cert, d.Key = pemCert(certs[3]), pems[1]
	d.UnsignedCert, d.UnsignedKey = pemCert(certs[4]), pems[2]
	var err error
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if werr := os.WriteFile(p, data, 0o600); werr != nil && err == nil {
			err = werr
		}
		return p
	}
	d.CAFile = write("ca.pem", d.CA)
	d.serverCrt, d.serverKey = write("daemon.pem", pemCert(certs[2])), write("daemon.key", pems[0])
	d.CertFile, d.KeyFile = write("client.pem", d.Cert), write("client.key", d.Key)
	d.UnsignedCertFile, d.UnsignedKeyFile = write("unsigned.pem", d.UnsignedCert), write("unsigned.key", d.UnsignedKey)
	return err
}

// newCert makes a P-256 key and a certificate for it, valid for a day: a
// CA's (self-signed when parent is nil), or a leaf's for both server
// (127.0.0.1, localhost) and client authentication.
func newCert(cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
