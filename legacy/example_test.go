package legacy_test

import (
	"errors"
	"fmt"

	"github.com/cedrina/cedrina/legacy"
)

// The original system's key, as its PGCRYPTO_KEY setting held it, and a
// password hash as it stored it.
const (
	originalKey  = "S2VlcC10aGlzLWtleS1vdXQtb2YtcHJvZHVjdGlvbiE="
	storedHash   = "enc_v1:Z0FBQUFBQnJESHlRM2g4OUJ5OU5vT1RoQmFQQ3FCN0ZYQVVXWVp3c2tkY2RrbWZyVEFfNlVvS1VXWTBDcmpXOEoySHVvXzhnNVVnc1hPSGhabFExeC05UU5nYVAyUU5yM3Q2RFloMHk1WndGYlJxV0FBQmJya1NaQWlQcHd6TlhJeGFzelBHTm81Z2RVaGpvWVFhczJpZXo4T19oZXpHV213PT0="
	rotatedOutOf = "3SEBQ9guoJRUuRdbQjOxr8f2O6fvNSz0dLA-RBHiwbk="
)

func ExampleKeys_OpenHash() {
	keys, err := legacy.ParseKeys(originalKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(keys) // never the key itself
	fmt.Println(legacy.IsEncryptedHash(storedHash))
	hash, err := keys.OpenHash(storedHash)
	fmt.Println(hash, err)

	other, _ := legacy.ParseKeys(rotatedOutOf)
	_, err = other.OpenHash(storedHash)
	fmt.Println(errors.Is(err, legacy.ErrWrongKey))
	_, err = keys.OpenHash("enc_v1:not base64")
	fmt.Println(errors.Is(err, legacy.ErrMalformed))
	// Output:
	// legacy.Keys(1 key)
	// true
	// $2b$04$zM2MHifMQerKYWRtfFBFl./fSfdMYdmg6ea9XDDq8D5KPi8LWLdcC <nil>
	// true
	// true
}

func ExampleParseKeys() {
	// Several keys, while the original was rotating them: each is tried
	// in turn. A bad key is named by its place, never by its text.
	keys, err := legacy.ParseKeys(rotatedOutOf + ", " + originalKey)
	fmt.Println(keys, err)
	_, err = legacy.ParseKeys(originalKey + ",hunter2")
	fmt.Println(err)
	// Output:
	// legacy.Keys(2 keys) <nil>
	// legacy: key 2 of 2: not base64 or hex of 32 bytes
}
