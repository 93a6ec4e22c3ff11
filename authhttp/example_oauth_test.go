package authhttp_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"

	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/oauth/oauthtest"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

// A host lets users sign in with an OpenID Connect provider: an
// oauth.Service in Config.OAuth. Here the provider is oauthtest's fake,
// and a client with a cookie jar plays the browser: start, the
// provider, the callback, whose answer is the token response of a login.
func Example_oauth() {
	db := memory.New()
	key, err := session.GenerateKey(session.EdDSA, "")
	check(err)
	keys, err := session.NewKeySet(key)
	check(err)
	sessions, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}})
	check(err)
	users, err := user.NewService(db.Users(), user.Config{Sessions: sessions})
	check(err)

	// The API's address comes first: the provider redirects to its
	// callback, registered with the provider and matched exactly.
	srv := httptest.NewUnstartedServer(nil)
	callbackURL := "https://" + srv.Listener.Addr().String() + "/auth/oauth/acme/callback"
	idp, err := oauthtest.Start(oauthtest.Config{RedirectURLs: []string{callbackURL}})
	check(err)
	defer idp.Close()

	acme, err := oauth.OIDC("acme", oauth.ProviderConfig{Issuer: idp.Issuer(), ClientID: idp.ClientID(),
		ClientSecret: idp.ClientSecret(), RedirectURL: callbackURL, HTTPClient: idp.Client()})
	check(err)
	// Provider tokens are sealed at rest: load the key, do not generate
	// it (oauth.ParseKeys reads "id:base64" keys from the environment).
	secret := make([]byte, 32)
	rand.Read(secret)
	cipher, err := oauth.NewCipher(oauth.Key{ID: "k1", Secret: secret})
	check(err)
	identities, err := oauth.NewService(oauth.Config{Providers: []*oauth.Provider{acme}, Users: users,
		Store: db.OAuth(), Tx: db, Cipher: cipher, ReturnTo: []string{"https://app.example.com/"}})
	check(err)
	api, err := authhttp.New(authhttp.Config{Users: users, Sessions: sessions, OAuth: identities})
	check(err)
	srv.Config.Handler = api
	srv.StartTLS() // the state cookie is Secure: HTTPS only
	defer srv.Close()

	browser := srv.Client()
	browser.Jar, _ = cookiejar.New(nil)
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	res, err := browser.Get(srv.URL + "/auth/oauth/acme/start")
	check(err)
	res.Body.Close()
	fmt.Println("start:", res.Status)
	back, err := idp.Authorize(res.Header.Get("Location")) // the user consents
	check(err)
	res, err = browser.Get(back.String()) // the jar sends the state cookie back
	check(err)
	var tok authhttp.TokenResponse
	check(decode(res, &tok))
	fmt.Println("callback:", res.Status, tok.TokenType)

	req, _ := http.NewRequest("GET", srv.URL+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = browser.Do(req)
	check(err)
	var me authhttp.UserView
	check(decode(res, &me))
	fmt.Println(me.Username, me.Email, me.IsVerified)
	// Output:
	// start: 302 Found
	// callback: 200 OK Bearer
	// alice alice@example.com true
}
