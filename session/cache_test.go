package session

import (
	"reflect"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestClaimsClone(t *testing.T) {
	if (*Claims)(nil).clone() != nil {
		t.Error("nil clones to non-nil")
	}
	withNBF := validClaims()
	withNBF.NotBefore = jwt.NewNumericDate(testNow.Add(-time.Minute))
	threeAud := validClaims()
	threeAud.Audience = jwt.ClaimStrings{"a", "b", "c"}
	noAud := validClaims()
	noAud.Audience = nil
	emptyAud := validClaims()
	emptyAud.Audience = jwt.ClaimStrings{}
	noTimes := validClaims()
	noTimes.ExpiresAt, noTimes.IssuedAt = nil, nil
	for name, c := range map[string]*Claims{
		"valid": validClaims(), "with nbf": withNBF, "three aud": threeAud,
		"nil aud": noAud, "empty aud": emptyAud, "no times": noTimes, "zero": {},
	} {
		t.Run(name, func(t *testing.T) {
			d := c.clone()
			if d == c || !reflect.DeepEqual(d, c) {
				t.Fatalf("clone %+v of %+v", d, c)
			}
			if (d.Audience == nil) != (c.Audience == nil) {
				t.Errorf("Audience nil-ness changed: %#v", d.Audience)
			}
			for _, p := range [][2]*jwt.NumericDate{{c.ExpiresAt, d.ExpiresAt}, {c.IssuedAt, d.IssuedAt}, {c.NotBefore, d.NotBefore}} {
				if p[0] != nil && p[0] == p[1] {
					t.Error("a time pointer is shared")
				}
			}
			if len(c.Audience) > 0 {
				d.Audience[0] = "changed"
				if c.Audience[0] == "changed" {
					t.Error("Audience is shared")
				}
				if cap(d.Audience) != len(d.Audience) {
					// An append must not write into memory of the copy's block.
					t.Errorf("Audience has spare capacity %d", cap(d.Audience))
				}
			}
		})
	}
}

func TestTokenCacheCopies(t *testing.T) {
	tc := newTokenCache(2)
	var k [32]byte
	c := validClaims()
	tc.put(k, c)
	c.Subject = "1"
	*c.ExpiresAt = *jwt.NewNumericDate(testNow.Add(10 * time.Hour))
	got, ok := tc.get(k)
	if !ok || !reflect.DeepEqual(got, validClaims()) {
		t.Fatalf("get = %+v, %v; want the claims as put", got, ok)
	}
	got.Audience[0] = "other"
	got.ExpiresAt.Time = got.ExpiresAt.Add(time.Hour)
	again, _ := tc.get(k)
	if again == got || !reflect.DeepEqual(again, validClaims()) {
		t.Fatalf("second get = %+v", again)
	}
	var none *tokenCache
	none.put(k, c)
	if _, ok := none.get(k); ok {
		t.Error("nil cache returned an entry")
	}
}
